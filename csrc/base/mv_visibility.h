/* What leaves the shared object: luaopen_missive_core and nothing else.
 *
 * The Makefile compiles with -fvisibility=hidden, but LuaRocks' builtin backend passes
 * no such flag, and a core name such as smtp_new left in the dynamic symbol table can
 * bind to another module's symbol of that name.  So the headers say it themselves:
 * every header wraps its declarations in MV_HIDDEN_BEGIN ... MV_HIDDEN_END, and a
 * definition keeps the visibility of its declaration (-Wmissing-prototypes makes sure
 * every global has one).  The pragma is popped at the end of each header, never left
 * open: it hides extern declarations too, so a libc or Lua header read under it would
 * name strlen or lua_pushstring as hidden and the link would fail.
 * spec/rockspec_spec.lua checks the LuaRocks build with nm -D. */
#ifndef MV_VISIBILITY_H
#define MV_VISIBILITY_H

#if defined(__GNUC__) && !defined(_WIN32)
#define MV_HIDDEN_BEGIN _Pragma("GCC visibility push(hidden)")
#define MV_HIDDEN_END _Pragma("GCC visibility pop")
#define MV_EXPORT __attribute__((visibility("default")))
#else
#define MV_HIDDEN_BEGIN
#define MV_HIDDEN_END
#define MV_EXPORT
#endif

#endif
