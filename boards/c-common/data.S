/* The model blob and its test rows, 4-byte aligned (the runtime reads the blob in place). */
    .section .rodata.board_data, "a"
    .balign 4
    .global board_blob, board_blob_end
board_blob:
    .incbin MODEL_PATH
board_blob_end:
    .balign 4
    .global board_inputs, board_inputs_end
board_inputs:
    .incbin INPUTS_PATH
board_inputs_end:
