/* llamac chat: an interactive multi-turn conversation with an instruct
 * model (see `llamac chat --help`). */
#ifndef LLAMAC_CMD_CHAT_H
#define LLAMAC_CMD_CHAT_H

int cmd_chat(int argc, char **argv);

#endif
