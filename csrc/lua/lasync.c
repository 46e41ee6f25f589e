/* Placeholder until the async binding lands: registers nothing. */
#include "bind.h"

void mvl_open_async(lua_State *L)
{
    (void)L;
}
