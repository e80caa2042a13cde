/* The binding's side of the host kernel's Python hooks (csrc/host_gil.c).  Host build only. */
#ifndef ZXPY_CSRC_HOST_GIL_H_
#define ZXPY_CSRC_HOST_GIL_H_

#if !defined(__Fuchsia__)
/* Called once, without the GIL, by an atexit callback that zxpy registers (zxpy/_raw.py): from then on the kernel's
 * park helper never takes the GIL again, and this returns once a helper already taking it has given it back. */
void zxpy_runtime_closing(void);
#endif

#endif /* ZXPY_CSRC_HOST_GIL_H_ */
