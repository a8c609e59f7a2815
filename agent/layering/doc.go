// Package layering holds no code: its test pins which packages of the
// module may depend on which, as Tailscale's tstest/deptest pins what a
// binary links. The core owns its ports; device and codec packages import
// no core package; the product binary links no sandbox. agent/glue is the
// one place where the core and the devices meet.
//
// It is a package of its own, rather than a test in cmd/medterm, because
// its rules span the whole module and it runs in a second: `go test
// ./agent/layering` needs no build of the daemon's heavy tests.
package layering
