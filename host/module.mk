# host/: the host CLI `parapet` (igvm build|dump|measure; run, list, ctl
# join the subcommand table in host/main.c).
PARAPET_IGVM_SRCS := host/igvm_cmd.c host/igvm_build.c host/igvm_dump.c \
	host/elf_load.c
PARAPET_RUN_SRCS := host/run.c host/list.c host/hostchan.c \
	host/ctl.c host/timeline.c host/ids.c host/disks.c
$(eval $(call program,parapet,host/main.c $(PARAPET_IGVM_SRCS) \
	$(PARAPET_RUN_SRCS)))
$(eval $(call unit_test,igvm_cmd_test,$(PARAPET_IGVM_SRCS)))
$(eval $(call unit_test,hostchan_test,host/hostchan.c))
# Bad input to every binary (issue 12): one table, every flag and file.
E2E_TESTS += tests/e2e/bad_input.sh tests/e2e/log_level.sh
