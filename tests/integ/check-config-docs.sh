#!/bin/sh
# Every key of arpcd's parser table (daemon/config.c, keys[]) is in
# conf/arpcd.conf with its default value and in docs/configuration.md's
# tables with the same default, and neither lists a key the parser lacks.
set -u
top=${ARPC_TOP_SRCDIR:-.}
table=$(sed -n 's/^[[:space:]]*{"\([a-z]*\)", "\([a-z_]*\)", K_[A-Z]*,.*"\([^"]*\)"},*$/\1 \2 \3/p' \
	"$top/daemon/config.c")
# Keys with no default (listen): shown as an example line in the config
# and as "none" in the docs.
table="$table
$(sed -n 's/^[[:space:]]*{"\([a-z]*\)", "\([a-z_]*\)", K_[A-Z]*,.*, NULL},*$/\1 \2 -/p' \
	"$top/daemon/config.c")"
# The one entry split over two lines in the source.
table="$table
$(sed -n '/"max_output_buffer", K_SIZE/{n;s/^[[:space:]]*"\([^"]*\)"},*$/limits max_output_buffer \1/p}' \
	"$top/daemon/config.c")"
fail=0
n=0
echo "$table" | { while read -r section key def; do
	[ -n "$key" ] || continue
	n=$((n + 1))
	if [ "$def" = - ]; then
		line="$key = .*"
		shown=none
	else
		line="$key = $def"
		line=${line% } # "socket_group =" for an empty default
		shown=${def:-empty}
	fi
	if ! grep -qx "$line" "$top/conf/arpcd.conf"; then
		echo "conf/arpcd.conf: no line '$line' ([$section] in daemon/config.c)"
		fail=1
	fi
	if ! grep -q "^| \`$key\` | .* | \`\{0,1\}$shown\`\{0,1\} |" "$top/docs/configuration.md"; then
		echo "docs/configuration.md: no table row for '$key' with default '$shown'"
		fail=1
	fi
done
for key in $(sed -n 's/^#\{0,1\}\([a-z_]*\) = .*/\1/p' "$top/conf/arpcd.conf" | sort -u); do
	case $key in path|greeting) continue ;; esac # the commented-out module example
	if ! echo "$table" | grep -q " $key "; then
		echo "conf/arpcd.conf: '$key' is not a key of daemon/config.c"
		fail=1
	fi
done
echo "$n keys checked"
[ "$n" -ge 16 ] || { echo "expected at least 16 keys in daemon/config.c"; fail=1; }
exit $fail; }
