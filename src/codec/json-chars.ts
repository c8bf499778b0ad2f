/** Byte values of JSON's structural characters, shared by the scanners. */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const MINUS = 0x2d;

/** Kinds of open container on a scanner's nesting stack. */
export const IN_OBJECT = 1;
export const IN_ARRAY = 2;
