/* zxpy rendition of <zircon/availability.h>, kept deliberately small.
 *
 * On Fuchsia every translation unit that uses the zircon headers must be
 * compiled for a definite API level: clang's -ffuchsia-api-level=N defines
 * __Fuchsia_API_level__ (without the flag some clangs define it as 0).  The
 * real header refuses to compile without a level, and so does this one, so
 * a cross-build that forgets the flag fails here just as it would against a
 * real SDK.  On the host there is no API level; the annotations expand to
 * nothing.
 */
#ifndef ZXPY_ZIRCON_AVAILABILITY_H_
#define ZXPY_ZIRCON_AVAILABILITY_H_

#if defined(__Fuchsia__) && \
    (!defined(__Fuchsia_API_level__) || __Fuchsia_API_level__ == 0)
#error "Fuchsia target without an API level: compile with -ffuchsia-api-level=N"
#endif

/* Declaration annotations.  The real header turns these into clang
 * availability attributes; zxpy declares nothing that needs them. */
#define ZX_AVAILABLE_SINCE(level_added)
#define ZX_DEPRECATED_SINCE(level_added, level_deprecated, msg)
#define ZX_REMOVED_SINCE(level_added, level_deprecated, level_removed, msg)

#endif /* ZXPY_ZIRCON_AVAILABILITY_H_ */
