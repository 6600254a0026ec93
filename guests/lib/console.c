/* Guest console: polled 16550 UART at COM1 and a small printf (%d %i %u
 * %x %X %p %s %c %%, l/ll/z, width, '0' and '-' flags). */
#include "guest.h"

#define UART_RBR 0    /* receive buffer */
#define UART_THR 0    /* transmit holding */
#define UART_LSR 5    /* line status */
#define LSR_DR	 0x01 /* data ready */
#define LSR_THRE 0x20 /* transmit holding register empty */

static volatile int con_lock;

/* With no UART the LSR reads all ones: THRE set, so output never waits. */
void con_putc(char c)
{
	while (!(inb(GUEST_PORT_COM1 + UART_LSR) & LSR_THRE))
		cpu_relax();
	outb(GUEST_PORT_COM1 + UART_THR, (uint8_t)c);
}

/* Like a 16550A driver: once THRE says the FIFO is empty, up to 16 bytes
 * go out in one string instruction (fewer exits and no memory stores,
 * which are dear under emulation). */
#define UART_FIFO 16

void con_write(const char *s, size_t len)
{
	while (len > 0) {
		size_t n = len < UART_FIFO ? len : UART_FIFO;
		size_t left = n;

		while (!(inb(GUEST_PORT_COM1 + UART_LSR) & LSR_THRE))
			cpu_relax();
		__asm__ volatile("rep outsb"
				 : "+S"(s), "+c"(left)
				 : "d"((uint16_t)(GUEST_PORT_COM1 + UART_THR))
				 : "memory");
		len -= n;
	}
}

int con_has_uart(void)
{
	return inb(GUEST_PORT_COM1 + UART_LSR) != 0xff;
}

int con_getc(void)
{
	uint8_t lsr;

	for (;;) {
		lsr = inb(GUEST_PORT_COM1 + UART_LSR);
		if (lsr == 0xff)
			return -1;
		if (lsr & LSR_DR)
			return inb(GUEST_PORT_COM1 + UART_RBR);
		cpu_relax();
	}
}

struct fmt_out {
	char *buf; /* NULL: to the UART through stage */
	size_t size;
	size_t len;
	char stage[64];
	size_t staged;
};

static void out_flush(struct fmt_out *o)
{
	con_write(o->stage, o->staged);
	o->staged = 0;
}

static void out_char(struct fmt_out *o, char c)
{
	if (!o->buf) {
		o->stage[o->staged++] = c;
		if (o->staged == sizeof(o->stage) || c == '\n')
			out_flush(o);
	} else if (o->len + 1 < o->size) {
		o->buf[o->len] = c;
	}
	o->len++;
}

struct fmt_spec {
	int width;
	int zero;
	int left;
	int lng; /* count of 'l' (or 'z') */
};

static void out_padded(struct fmt_out *o, const struct fmt_spec *sp,
		       const char *s, size_t n)
{
	int pad = sp->width > (int)n ? sp->width - (int)n : 0;

	if (!sp->left)
		while (pad-- > 0)
			out_char(o, sp->zero ? '0' : ' ');
	while (n--)
		out_char(o, *s++);
	if (sp->left)
		while (pad-- > 0)
			out_char(o, ' ');
}

static void out_number(struct fmt_out *o, const struct fmt_spec *sp, uint64_t v,
		       int neg, unsigned int base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	if (neg) {
		if (sp->zero && sp->width > 0) {
			struct fmt_spec s2 = *sp;

			out_char(o, '-');
			s2.width--;
			out_padded(o, &s2, tmp + i, sizeof(tmp) - i);
			return;
		}
		tmp[--i] = '-';
	}
	out_padded(o, sp, tmp + i, sizeof(tmp) - i);
}

static const char *parse_spec(const char *f, struct fmt_spec *sp)
{
	*sp = (struct fmt_spec){ 0 };
	for (;; f++) {
		if (*f == '0')
			sp->zero = 1;
		else if (*f == '-')
			sp->left = 1;
		else
			break;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	while (*f == 'l' || *f == 'z') {
		sp->lng += *f == 'z' ? 2 : 1;
		f++;
	}
	return f;
}

static void out_signed(struct fmt_out *o, const struct fmt_spec *sp,
		       va_list *ap)
{
	int64_t v;

	if (sp->lng >= 2)
		v = va_arg(*ap, long long);
	else if (sp->lng == 1)
		v = va_arg(*ap, long);
	else
		v = va_arg(*ap, int);
	out_number(o, sp, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, 0);
}

static uint64_t arg_unsigned(const struct fmt_spec *sp, va_list *ap)
{
	if (sp->lng >= 2)
		return va_arg(*ap, unsigned long long);
	if (sp->lng == 1)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static void out_conv(struct fmt_out *o, struct fmt_spec *sp, char c,
		     va_list *ap)
{
	const char *s;
	char ch;

	switch (c) {
	case 'd':
	case 'i':
		out_signed(o, sp, ap);
		break;
	case 'u':
		out_number(o, sp, arg_unsigned(sp, ap), 0, 10, 0);
		break;
	case 'x':
	case 'X':
		out_number(o, sp, arg_unsigned(sp, ap), 0, 16, c == 'X');
		break;
	case 'p':
		out_char(o, '0');
		out_char(o, 'x');
		out_number(o, sp, (uintptr_t)va_arg(*ap, void *), 0, 16, 0);
		break;
	case 's':
		s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)";
		out_padded(o, sp, s, strlen(s));
		break;
	case 'c':
		ch = (char)va_arg(*ap, int);
		out_padded(o, sp, &ch, 1);
		break;
	default:
		out_char(o, '%');
		if (c)
			out_char(o, c);
		break;
	}
}

static void format(struct fmt_out *o, const char *f, va_list *ap)
{
	struct fmt_spec sp;

	while (*f) {
		if (*f != '%') {
			out_char(o, *f++);
			continue;
		}
		f = parse_spec(f + 1, &sp);
		out_conv(o, &sp, *f, ap);
		if (*f)
			f++;
	}
}

int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { .buf = buf, .size = size };
	va_list aq;

	va_copy(aq, ap);
	format(&o, fmt, &aq);
	va_end(aq);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

/* Holds con_lock for the whole call so lines from several VPs never mix. */
int gprintf(const char *fmt, ...)
{
	struct fmt_out o = { .buf = NULL };
	va_list ap;

	va_start(ap, fmt);
	spin_lock(&con_lock);
	format(&o, fmt, &ap);
	out_flush(&o);
	spin_unlock(&con_lock);
	va_end(ap);
	return (int)o.len;
}

int con_trygetc(void)
{
	uint8_t lsr = inb(GUEST_PORT_COM1 + UART_LSR);

	if (lsr == 0xff || !(lsr & LSR_DR))
		return -1;
	return inb(GUEST_PORT_COM1 + UART_RBR);
}
