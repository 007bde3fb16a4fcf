/* Entry points of the subcommands; argv[0] is the subcommand's name. */
#ifndef NETTOOL_COMMANDS_H
#define NETTOOL_COMMANDS_H

int cmd_ts_server(int argc, char **argv);
int cmd_ts_client(int argc, char **argv);
int cmd_resolve(int argc, char **argv);

#endif
