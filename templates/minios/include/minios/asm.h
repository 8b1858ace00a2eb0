/*
 * Assembly helpers shared by arch/x86/*.S.
 */
#ifndef MINIOS_ASM_H
#define MINIOS_ASM_H

#ifdef __ASSEMBLER__

/* A global function symbol, 16-byte aligned. */
#define ENTRY(name)      \
    .globl name;         \
    .type name, @function; \
    .p2align 4;          \
    name:

#define END(name) .size name, . - name

/*
 * One Xen ELF note (Xen ABI reference §1.1): namesz 4, descsz, type, the
 * name "Xen\0", then the descriptor, each part padded to 4 bytes. Use
 * them inside `.section .note.Xen, "a", @note`.
 *   xen_elfnote_str type, "text"     a NUL-terminated string
 *   xen_elfnote_int type, value      a 32-bit little-endian number
 */
.macro xen_elfnote_begin type
    .p2align 2
    .long 4, 3f - 2f, \type
    .asciz "Xen"
2:
.endm

.macro xen_elfnote_str type, text
    xen_elfnote_begin \type
    .asciz "\text"
3:  .p2align 2
.endm

.macro xen_elfnote_int type, value
    xen_elfnote_begin \type
    .long \value
3:  .p2align 2
.endm

#endif /* __ASSEMBLER__ */

#endif /* MINIOS_ASM_H */
