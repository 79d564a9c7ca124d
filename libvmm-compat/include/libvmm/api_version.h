/*
 * Which libvmm API the libvmm-compat headers declare.
 *
 *   LIBVMM_API_VERSION 1  libvmm 0.1.0 (default)
 *   LIBVMM_API_VERSION 2  libvmm 0.2.0, aarch64 surface
 *
 * Define it before the first libvmm include (e.g. -DLIBVMM_API_VERSION=2);
 * it applies to the whole translation unit. Both APIs are in the same
 * libsel4vm.a: 0.2.0 functions whose names 0.1.0 also uses, and the ones new
 * in 0.2.0, are linked as libvmm2_<name> (the 0.2.0 headers #define <name>
 * to it), so translation units of either version can share a program.
 */
#pragma once

#ifndef LIBVMM_API_VERSION
#define LIBVMM_API_VERSION 1
#endif

#if LIBVMM_API_VERSION != 1 && LIBVMM_API_VERSION != 2
#error "LIBVMM_API_VERSION must be 1 (libvmm 0.1.0) or 2 (libvmm 0.2.0)"
#endif

/* The libvmm release the headers follow, as a string. */
#if LIBVMM_API_VERSION == 2
#define LIBVMM_API_RELEASE "0.2.0"
#else
#define LIBVMM_API_RELEASE "0.1.0"
#endif
