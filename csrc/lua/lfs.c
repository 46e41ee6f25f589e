/* Placeholder until the fs binding lands: registers nothing. */
#include "bind.h"

void mvl_open_fs(lua_State *L)
{
    (void)L;
}
