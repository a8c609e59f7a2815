//go:build windows && cgo

package main

// #include <string.h>
import "C"

import (
	"context"
	"unsafe"
)

// iReadCardBas is the standard interface's function, exported from the
// DLL. On 64-bit Windows __stdcall and the C convention are one.
//
//export iReadCardBas
func iReadCardBas(iType C.int, pOutInfo *C.char) C.long {
	if pOutInfo == nil {
		return C.long(ErrType)
	}
	text, code := readCardBas(context.Background(), fromEnvironment(), int(iType))
	out := encodeOut(text)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(pOutInfo)), MaxOut)
	n := copy(buf[:MaxOut-1], out)
	buf[n] = 0
	return C.long(code)
}
