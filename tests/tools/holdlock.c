/*
 * holdlock FILE BYTE[,BYTE...] CMD... - hold shared OFD locks on the given
 * bytes of FILE (as qemu does for its image locking) while CMD runs, then
 * exit with CMD's status. Lets tests play "another process uses the image".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int fd, status;
    pid_t pid;
    char *bytes, *tok;

    if (argc < 4) {
        fprintf(stderr, "usage: holdlock FILE BYTE[,BYTE...] CMD...\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    bytes = strdup(argv[2]);
    for (tok = strtok(bytes, ","); tok; tok = strtok(NULL, ",")) {
        struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
                            .l_start = atoi(tok), .l_len = 1 };
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
            perror("F_OFD_SETLK");
            return 2;
        }
    }
    free(bytes);
    pid = fork();
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        return 2;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
