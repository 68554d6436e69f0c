# image locking: imgsh honours and takes qemu's OFD locks (bytes 100+perm
# for permissions in use, 200+perm for permissions refused to others).
setup() {
    qemu-img create -q -f raw a.raw 1M
}
# 100 consistent read, 101 write, 103 resize in use; 200/201/203 refused
for b in 100 101 103 200 201 203 100,101,103 200,201,203; do
    same_locked a.raw $b info -f raw a.raw
    same_locked a.raw $b info -U -f raw a.raw
    same_locked a.raw $b resize -f raw a.raw 3M
    same_locked a.raw $b create -f raw a.raw 3M
done
# qcow2 refuses to share write and resize with other users; -U refuses
# nothing but still needs a consistent view for reading data (map)
setup() {
    qemu-img create -q -f qcow2 q.qcow2 1M
    qemu-img create -q -f raw a.raw 1M
}
for b in 100 101 103 200 201 203; do
    same_locked q.qcow2 $b info q.qcow2
    same_locked q.qcow2 $b info -U q.qcow2
    same_locked q.qcow2 $b map q.qcow2
    same_locked q.qcow2 $b map -U q.qcow2
    same_locked a.raw $b map -U -f raw a.raw
done
