# this creates urlencode-friendly files without EOL
import urllib.parse

for name, vote in (("postb", "b"), ("posta", "a")):
    with open(name, "w") as outfile:
        outfile.write(urllib.parse.urlencode({"vote": vote}))
