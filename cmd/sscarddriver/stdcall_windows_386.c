// iReadCardBas as 32-bit HIS programs call it: __stdcall, the callee
// pops its arguments (see export_windows_386.go).
#include "_cgo_export.h"

__declspec(dllexport) long __stdcall iReadCardBas(int iType, char *pOutInfo) {
	return medtermReadCardBas(iType, pOutInfo);
}
