//go:build windows && cgo

package main

// #include <string.h>
import "C"

import (
	"context"
	"unsafe"
)

// fillCardBas is iReadCardBas's body: the card into the caller's buffer.
// The 64-bit DLL exports it as iReadCardBas (export_windows_amd64.go);
// the 32-bit one through a __stdcall wrapper (stdcall_windows_386.c).
func fillCardBas(iType C.int, pOutInfo *C.char) C.long {
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
