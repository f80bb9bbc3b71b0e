/*
 * api.h - what libweaprous.so exports: exactly what the public headers
 * (weaprous/NAME.h) declare.
 *
 * The library is compiled with -fvisibility=hidden, so a function shared
 * between its own files (sha1_*, base64_*, the store's statements ...)
 * stays internal; every public header wraps its declarations in
 * WR_API_BEGIN ... WR_API_END, which gives them default visibility.
 * t/exports.t compares `nm -D` of the library with the declarations,
 * both ways.  Other compilers get no markers and export everything.
 */
#ifndef WEAPROUS_API_H
#define WEAPROUS_API_H

#if defined(__GNUC__)
#define WR_API_BEGIN _Pragma("GCC visibility push(default)")
#define WR_API_END   _Pragma("GCC visibility pop")
#else
#define WR_API_BEGIN
#define WR_API_END
#endif

#endif
