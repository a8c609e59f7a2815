//go:build cgo

package main

// On 32-bit Windows the standard interface's iReadCardBas is __stdcall,
// which a Go export cannot be: stdcall_windows_386.c defines it and calls
// this. make cross links with -Wl,--kill-at (CGO_LDFLAGS: cgo allows no
// such flag in a #cgo line) so that it is exported undecorated
// (iReadCardBas, not iReadCardBas@8), the name HIS programs look up.

import "C"

//export medtermReadCardBas
func medtermReadCardBas(iType C.int, pOutInfo *C.char) C.long { return fillCardBas(iType, pOutInfo) }
