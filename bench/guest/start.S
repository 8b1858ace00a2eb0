/*
 * xenkit CPU benchmark, guest entry point.
 *
 * Entered in flat 32-bit protected mode at CPL 0 (paging may be on, with
 * an identity map). Sets up a stack, calls main(), writes main's 32-bit
 * result to I/O port 0xE9 with OUTL, and halts. A spurious wake-up from
 * HLT halts again.
 */
	.set	REPORT_PORT, 0xe9

	.section .text.start, "ax"
	.globl	_start
	.type	_start, @function
_start:
	movl	$stack_top, %esp
	xorl	%ebp, %ebp
	cld
	call	main
	movw	$REPORT_PORT, %dx
	outl	%eax, %dx
1:	hlt
	jmp	1b
	.size	_start, . - _start

	.section .bss.stack, "aw", @nobits
	.balign	16
stack_bottom:
	.space	65536
stack_top:

	.section .note.GNU-stack, "", @progbits
