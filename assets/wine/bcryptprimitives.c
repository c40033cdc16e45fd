/*
 * A stand-in for Windows' bcryptprimitives.dll, for tests under wine only.
 * Go >= 1.24 draws its random bytes from ProcessPrng, which wine 8 lacks;
 * this exports ProcessPrng on top of RtlGenRandom (advapi32's
 * SystemFunction036), which wine has. Never shipped to a Windows PC.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
