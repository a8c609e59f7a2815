module github.com/seed-a859fada/medterm

go 1.26.8

require (
	github.com/emmansun/gmsm v0.15.5 // indirect
	golang.org/x/sys v0.3.0 // indirect
)
