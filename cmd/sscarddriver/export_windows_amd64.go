//go:build cgo

package main

import "C"

// iReadCardBas is the standard interface's function, exported from the
// DLL. On 64-bit Windows __stdcall and the C convention are one.
//
//export iReadCardBas
func iReadCardBas(iType C.int, pOutInfo *C.char) C.long { return fillCardBas(iType, pOutInfo) }
