import json, sys
text, vals, pos = sys.stdin.read(), [], 0
dec = json.JSONDecoder()
while pos < len(text):
    if text[pos].isspace():
        pos += 1
        continue
    v, pos = dec.raw_decode(text, pos)
    vals.append(v)
sn, cmp, echo, use, fail = vals
assert [s["name"] for s in sn] == ["snap1"] and sn[0]["vm-state-size"] == 0, sn
assert cmp == {"command": "compare", "arguments": ["other.qcow2"], "status": 1,
               "output": ["Content mismatch at offset 0!"]}, cmp
assert echo == {"command": "echo", "arguments": ["a b", "c"], "status": 0, "output": ["a b c"]}
assert use["output"] == [] and use["status"] == 0
assert fail["command"] == "info" and fail["status"] == 1 and fail["output"] == [], fail
print("ok")
