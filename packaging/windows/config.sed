# The Windows configuration from packaging/medterm.toml (make msi): paths
# relative to %ProgramData%\medterm, where the configuration lives. The
# secrets go to secrets\ (the service account reads them, operators do
# not), the journal and its key to data\, the API token beside the
# configuration (the CLI and SSCardDriver.dll read it there).
s|"/var/lib/medterm/api.token"|"api.token"|
s|"/etc/medterm/|"secrets/|g
s|"/var/lib/medterm/|"data/|g
s|^port = "/dev/scanner"|port = "COM3"|
s|^file = "" .*|file = "logs/medterm.log"   # every record as JSON, rotated; warnings and errors also go to the event log|
