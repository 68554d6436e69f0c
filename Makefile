# imgsh - build, test and install. See README.md; `make help` lists targets.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= gcc
PKGS := libedit zlib libzstd nettle jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libaio ships no .pc file on Debian
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
            $(shell pkg-config --libs libaio 2>/dev/null || echo -laio)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=c11 $(WARN) -O2 -g -D_GNU_SOURCE -pthread -MMD -MP
CFLAGS ?=
LDFLAGS ?=

BUILD ?= build
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# a sanitizer build directory is always built with the sanitizers, whoever
# asks (make asan, or make install BUILD=build-asan from the install test)
ifneq ($(filter %build-asan,$(BUILD)),)
EXTRA_CFLAGS := $(SAN_FLAGS)
EXTRA_LDFLAGS := $(SAN_FLAGS)
endif

# Sources by layer. One file per format / per subcommand.
ENGINE_SRCS := $(sort $(wildcard engine/*.c))
FORMAT_SRCS := $(sort $(wildcard formats/*.c formats/*/*.c))
SHELL_SRCS  := $(sort $(wildcard shell/*.c))
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRCS   := $(sort $(wildcard tests/tools/*.c))

LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRCS) $(FORMAT_SRCS))
MAIN_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SHELL_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))

ALL_CFLAGS = $(BASE_CFLAGS) $(EXTRA_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pthread $(EXTRA_LDFLAGS) $(LDFLAGS)

.PHONY: all deps deps-build run check check-only unit integration asan check-asan install uninstall \
        clean help tests bench

all: $(BUILD)/imgsh $(BUILD)/compat/qemu-img $(BUILD)/compat/qemu-io

help:
	@echo "make            build $(BUILD)/imgsh and the qemu-img/qemu-io compat links"
	@echo "make deps       install missing Debian packages (build, test oracle, tmux)"
	@echo "make run        build and tour imgsh on a generated demo image"
	@echo "make check      install, build, run every test; ends with 'N passed, M failed'"
	@echo "make asan       build with ASan+UBSan into build-asan/"
	@echo "make check-asan run the same tests on the sanitizer build"
	@echo "make install    install binary, compat links and man page under PREFIX"
	@echo "make bench      time imgsh against qemu-img on the same inputs (ratios)"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libimgsh.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/imgsh: $(MAIN_OBJS) $(BUILD)/libimgsh.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJS) $(BUILD)/libimgsh.a $(PKG_LIBS) -lm

# argv[0] selects the personality: the compat names are links to imgsh
$(BUILD)/compat/qemu-img $(BUILD)/compat/qemu-io: $(BUILD)/imgsh
	@mkdir -p $(dir $@)
	ln -sf ../imgsh $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libimgsh.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libimgsh.a $(ALL_LDFLAGS) $(CMOCKA_LIBS) $(PKG_LIBS) -lm

$(BUILD)/tests/%: tests/tools/%.c $(BUILD)/libimgsh.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libimgsh.a $(ALL_LDFLAGS) $(PKG_LIBS) -lm

tests: all $(UNIT_BINS) $(TOOL_BINS)

deps:
	@sh scripts/deps.sh

# the demo needs only what builds imgsh (it makes its images with imgsh)
deps-build:
	@sh scripts/deps.sh build

run: deps-build
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BUILD)

# check = deps + build + every test, with one summary line at the end
# (plus the unit tests and hostile-input cases once more under ASan+UBSan)
check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory asan
	@sh tests/run.sh $(BUILD) build-asan

check-only: tests
	@sh tests/run.sh $(BUILD)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan tests

# imgsh against the real qemu-img on the same inputs, as ratios
bench: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/bench.sh $(BUILD)

check-asan: asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    sh tests/run.sh build-asan

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/imgsh $(DESTDIR)$(BINDIR)/imgsh
	ln -sf imgsh $(DESTDIR)$(BINDIR)/qemu-img
	ln -sf imgsh $(DESTDIR)$(BINDIR)/qemu-io
	install -m 644 docs/imgsh.1 $(DESTDIR)$(MANDIR)/man1/imgsh.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/imgsh $(DESTDIR)$(BINDIR)/qemu-img $(DESTDIR)$(BINDIR)/qemu-io \
	    $(DESTDIR)$(MANDIR)/man1/imgsh.1

clean:
	rm -rf build build-asan demo

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
