/* The C half of zxpy's handle wrappers (csrc/fastcalls.c): the module zxpy._fastcalls.
 *
 * It lives in the CFFI module so that it calls the very zx_* functions the raw binding exposes (the host kernel,
 * or Fuchsia's vDSO through libzircon) and ships in the same binary for every target. */
#ifndef ZXPY_CSRC_FASTCALLS_H_
#define ZXPY_CSRC_FASTCALLS_H_

/* Create the module zxpy._fastcalls and put it in sys.modules.  Called once through CFFI by zxpy/_raw.py (without
 * the GIL; it takes it).  Returns 0, or -1 after printing the Python error. */
int zxpy_fastcalls_install(void);

#endif /* ZXPY_CSRC_FASTCALLS_H_ */
