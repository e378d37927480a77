# The rules every C board shares; a board's Makefile sets CPU (the compiler's core flags),
# then includes this file. Its own folder holds memory.ld.
#
#   make -C boards/<board> [MODEL=model.postcard] [INPUTS=rows] [OUT=dir] [SPIKESLAB_DIR=dir]
#
# MODEL defaults to models/demo.postcard of this repository; INPUTS to the .inputs beside
# it (the test rows, little-endian f32). FLAGS go to both the compiler and the linker
# (e.g. FLAGS=-flto). SPIKESLAB_DIR is the package that
# runtime-c/package.sh makes (default target/spikeslab-c). Builds OUT/board.elf (prints
# the outputs), OUT/probe.elf and OUT/empty.elf (the code-size pair).

BOARD_DIR := $(abspath $(dir $(firstword $(MAKEFILE_LIST))))
COMMON := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ROOT := $(abspath $(COMMON)/../..)
MODEL ?= $(ROOT)/models/demo.postcard
INPUTS ?= $(basename $(MODEL)).inputs
SPIKESLAB_DIR ?= $(ROOT)/target/spikeslab-c
OUT ?= $(ROOT)/target/boards/$(notdir $(BOARD_DIR))

CC := arm-none-eabi-gcc
FLAGS ?=
CFLAGS := $(CPU) -std=c99 -Os -g -ffunction-sections -fdata-sections \
  -Wall -Wextra -Werror -pedantic $(FLAGS)
include $(SPIKESLAB_DIR)/spikeslab.mk
CFLAGS += $(SPIKESLAB_CFLAGS)
LDFLAGS := $(CPU) -nostartfiles --specs=nano.specs -Wl,--gc-sections -Wl,--no-warn-execstack \
  -L$(BOARD_DIR) -T$(COMMON)/link.ld $(FLAGS)
LDLIBS := $(SPIKESLAB_LIB) -lc -lgcc

ifeq ($(wildcard $(MODEL)),)
  $(error $(MODEL) not found: set MODEL to a compiled .postcard)
endif
ifeq ($(wildcard $(INPUTS)),)
  $(error $(INPUTS) not found: set INPUTS to the model's test rows)
endif

.PHONY: all clean
.SECONDARY:
all: $(OUT)/board.elf $(OUT)/probe.elf $(OUT)/empty.elf

$(OUT)/%.o: $(COMMON)/%.c $(SPIKESLAB_DIR)/include/spikeslab.h $(COMMON)/semihost.h | $(OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OUT)/data.o: $(COMMON)/data.S $(MODEL) $(INPUTS) | $(OUT)
	$(CC) $(CPU) -c -o $@ -DMODEL_PATH='"$(abspath $(MODEL))"' -DINPUTS_PATH='"$(abspath $(INPUTS))"' $<

$(OUT)/%.elf: $(OUT)/%.o $(OUT)/startup.o $(OUT)/semihost.o $(OUT)/data.o $(SPIKESLAB_LIB) $(COMMON)/link.ld $(BOARD_DIR)/memory.ld
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

$(OUT)/board.o: $(COMMON)/main.c $(SPIKESLAB_DIR)/include/spikeslab.h $(COMMON)/semihost.h | $(OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)
