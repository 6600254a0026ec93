# services/blkd/: parapet-blkd, the vhost-user-blk disk back-end.
BLKD_SRCS := services/blkd/blk.c services/blkd/dev.c services/blkd/listen.c \
	services/blkd/standalone.c
$(eval $(call program,parapet-blkd,services/blkd/main.c $(BLKD_SRCS)))
