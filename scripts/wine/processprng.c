/*
 * bcryptprimitives.dll for Wine 8, holding the one function Rust's standard
 * library needs from it: ProcessPrng, which Windows 10 and later export and
 * Wine 8 lacks (every Rust .exe exits at once without it). It fills the
 * buffer from RtlGenRandom (advapi32's SystemFunction036), the generator
 * Wine backs with the host's random source. Used only to run lmi's Windows
 * build under Wine in scripts/dist-test.sh; never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *            processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: fill larger buffers in pieces. */
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
