/*
 * The smallest application: print one line and return, which powers the
 * domain off. `make APP=app/hello.c` builds it; xenkit's boot benchmark
 * times it (`npm run bench`).
 */
#include <minios/app.h>
#include <minios/console.h>

void app_main(void)
{
    printf("Hello from xenkit!\n");
}
