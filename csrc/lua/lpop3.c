/* Placeholder until the pop3 binding lands: registers nothing. */
#include "bind.h"

void mvl_open_pop3(lua_State *L)
{
    (void)L;
}
