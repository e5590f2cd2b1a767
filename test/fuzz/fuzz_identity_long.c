/*
 * fuzz_identity_long.c
 *		fuzz_identity on number texts of up to 2.5 million bytes, written
 *		compactly: "10*1500000e-1500000" is 1, then 1500001 zeros, then
 *		e-1500000 (see expand() in fuzz_identity.c).  A harness of its own
 *		because such inputs run a thousand times slower than short ones.
 */
#define FUZZ_IDENTITY_LONG 1
#include "fuzz_identity.c"
