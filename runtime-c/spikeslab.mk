# Makefile fragment of the spikeslab C library. Include it from a firmware Makefile:
#
#   include path/to/spikeslab-c/spikeslab.mk
#   CFLAGS  += $(SPIKESLAB_CFLAGS)
#   LDLIBS  += $(SPIKESLAB_LIB)
#
# The library's core follows -mcpu and -mfloat-abi in CFLAGS (set them before the include),
# or set SPIKESLAB_TARGET to one of thumbv6m-none-eabi, thumbv7m-none-eabi,
# thumbv7em-none-eabi, thumbv7em-none-eabihf.

SPIKESLAB_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

ifndef SPIKESLAB_TARGET
  ifneq ($(filter -mcpu=cortex-m0 -mcpu=cortex-m0plus -mcpu=cortex-m1 -mcpu=cortex-m23,$(CFLAGS)),)
    SPIKESLAB_TARGET := thumbv6m-none-eabi
  else ifneq ($(filter -mcpu=cortex-m3,$(CFLAGS)),)
    SPIKESLAB_TARGET := thumbv7m-none-eabi
  else ifneq ($(filter -mcpu=cortex-m4 -mcpu=cortex-m7 -mcpu=cortex-m33 -mcpu=cortex-m55,$(CFLAGS)),)
    ifneq ($(filter -mfloat-abi=hard,$(CFLAGS)),)
      SPIKESLAB_TARGET := thumbv7em-none-eabihf
    else
      SPIKESLAB_TARGET := thumbv7em-none-eabi
    endif
  else
    $(error spikeslab.mk: no -mcpu=cortex-m... in CFLAGS; set SPIKESLAB_TARGET)
  endif
endif

SPIKESLAB_CFLAGS := -I$(SPIKESLAB_DIR)/include
SPIKESLAB_LIB := $(SPIKESLAB_DIR)/lib/$(SPIKESLAB_TARGET)/libspikeslab.a

ifeq ($(wildcard $(SPIKESLAB_LIB)),)
  $(error spikeslab.mk: $(SPIKESLAB_LIB) not found (SPIKESLAB_TARGET=$(SPIKESLAB_TARGET)))
endif
