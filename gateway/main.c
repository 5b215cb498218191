/*
 * main.c -- bin/busbase-gateway: the HTTP front of BusBase. Everything is
 * in gw_main (control.c), so unit tests and fuzz targets can link the rest.
 */
#include "gw.h"

int
main(int argc, char **argv)
{
	return (gw_main(argc, argv));
}
