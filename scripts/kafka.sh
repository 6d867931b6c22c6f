#!/usr/bin/env bash
# kafka.sh: Apache Kafka for the local stack and the tests, from Maven
# Central. Fetches one pinned version's broker and tools jars with Maven
# (scripts/kafka/pom.xml) plus a logging backend into a cache outside the
# work tree, laid out like Apache's binary distribution:
#
#   $ESM_CACHE/kafka/VERSION/libs/*.jar   the broker, the tools, their dependencies
#   $ESM_CACHE/kafka/VERSION/config/      logging configuration
#   $ESM_CACHE/kafka/VERSION/bin/         launchers of our own (kafka-server-start.sh,
#                                         kafka-storage.sh, kafka-topics.sh, ...)
#
#   scripts/kafka.sh home [VERSION]     fetch when missing; print the folder
#   scripts/kafka.sh version            the pinned version (ESM_KAFKA_VERSION)
#   scripts/kafka.sh legacy-version     the 3.9 line CI tests as well
#   scripts/kafka.sh archive DIR [VER]  pack the folder as kafka_2.13-VER.tgz with
#                                       its .sha512 (what Ansible installs)
#
# A second run finds the folder complete (a stamp written last) and needs no
# network. Maven's own downloads stay in its local repository (~/.m2).
# ESM_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/esm.
set -euo pipefail

# The versions, here and nowhere else. 4.x is the current line; 3.9 is the
# last line with ZooKeeper mode and every old protocol version.
KAFKA_VERSION=${ESM_KAFKA_VERSION:-4.4.0}
KAFKA_LEGACY_VERSION=3.9.2

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
CACHE=${ESM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/esm}

say() { echo "kafka: $*" >&2; }
die() {
	echo "kafka: error: $*" >&2
	exit 1
}

# Command-line tools and the class each runs; where a tool moved between
# lines, the candidates in order (the first class present in libs/ wins).
TOOLS="kafka-server-start.sh kafka.Kafka
kafka-storage.sh kafka.tools.StorageTool
kafka-topics.sh org.apache.kafka.tools.TopicCommand kafka.admin.TopicCommand
kafka-acls.sh org.apache.kafka.tools.AclCommand kafka.admin.AclCommand
kafka-configs.sh org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand
kafka-metadata-quorum.sh org.apache.kafka.tools.MetadataQuorumCommand
kafka-consumer-groups.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand kafka.admin.ConsumerGroupCommand
kafka-features.sh org.apache.kafka.tools.FeatureCommand"

# major VERSION: 3 or 4.
major() { echo "${1%%.*}"; }

# class_in_libs DIR CLASS: 0 when a jar of DIR/libs holds CLASS.
class_in_libs() {
	local entry=${2//.//}.class j
	for j in "$1"/libs/*.jar; do
		unzip -l "$j" "$entry" >/dev/null 2>&1 && return 0
	done
	return 1
}

# write_launchers DIR VERSION: bin/kafka-run-class.sh and one small script
# per tool, each naming its class.
write_launchers() {
	local dir=$1 ver=$2 tool cls candidates
	mkdir -p "$dir/bin"
	cat >"$dir/bin/kafka-run-class.sh" <<-'EOF'
		#!/bin/sh
		# kafka-run-class.sh CLASS ARGS...: runs a class of this Kafka tree.
		# KAFKA_HEAP_OPTS (default -Xmx256m), KAFKA_OPTS and KAFKA_LOG_DIR are
		# honoured like Apache's script of the same name.
		base=$(cd "$(dirname "$0")/.." && pwd -P)
		: "${KAFKA_HEAP_OPTS:=-Xmx256m}"
		: "${KAFKA_LOG_DIR:=$base/logs}"
		if [ -f "$base/config/log4j2.yaml" ]; then
			log="-Dlog4j2.configurationFile=${KAFKA_LOG4J_CONFIG:-$base/config/log4j2.yaml}"
		else
			log="-Dlog4j.configuration=file:${KAFKA_LOG4J_CONFIG:-$base/config/log4j.properties}"
		fi
		# shellcheck disable=SC2086 # option lists
		exec "${JAVA:-java}" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_LOG_DIR" "$log" \
			${KAFKA_OPTS:-} -cp "$base/libs/*" "$@"
	EOF
	chmod 0755 "$dir/bin/kafka-run-class.sh"
	while read -r tool candidates; do
		cls=
		for c in $candidates; do
			if class_in_libs "$dir" "$c"; then cls=$c; break; fi
		done
		[ -n "$cls" ] || continue
		printf '#!/bin/sh\n# %s (Kafka %s): runs %s.\nexec "$(dirname "$0")/kafka-run-class.sh" %s "$@"\n' \
			"$tool" "$ver" "$cls" "$cls" >"$dir/bin/$tool"
		chmod 0755 "$dir/bin/$tool"
	done <<<"$TOOLS"
	[ -x "$dir/bin/kafka-server-start.sh" ] && [ -x "$dir/bin/kafka-storage.sh" ] ||
		die "the fetched jars of $ver lack the broker or the storage tool"
}

# write_logging DIR VERSION: the broker logs to stdout (the caller's log
# file), warnings and up from Kafka's own classes, info from the server.
write_logging() {
	mkdir -p "$1/config"
	if [ "$(major "$2")" -ge 4 ]; then
		cat >"$1/config/log4j2.yaml" <<-'EOF'
			Configuration:
			  Appenders:
			    Console:
			      name: STDOUT
			      PatternLayout:
			        pattern: "[%d] %p %m (%c)%n"
			  Loggers:
			    Root:
			      level: WARN
			      AppenderRef:
			        - ref: STDOUT
			    Logger:
			      - name: kafka.server.KafkaRaftServer
			        level: INFO
			      - name: kafka.server.BrokerServer
			        level: INFO
		EOF
	else
		cat >"$1/config/log4j.properties" <<-'EOF'
			log4j.rootLogger=WARN, stdout
			log4j.appender.stdout=org.apache.log4j.ConsoleAppender
			log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
			log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
			log4j.logger.kafka.server.KafkaRaftServer=INFO
			log4j.logger.kafka.server.KafkaServer=INFO
			log4j.logger.kafka.server.BrokerServer=INFO
		EOF
	fi
}

# fetch VERSION: lays out $CACHE/kafka/VERSION unless it is complete.
fetch() {
	local ver=$1 dir=$CACHE/kafka/$1 tmp profile
	[[ $ver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not a Kafka version: $ver"
	[ -f "$dir/.complete" ] && return 0
	command -v mvn >/dev/null || die "Maven is not installed (make deps installs it)"
	command -v java >/dev/null || die "Java is not installed (make deps installs it)"
	command -v unzip >/dev/null || die "unzip is not installed (make deps installs it)"
	profile=kafka$(major "$ver")
	[ "$profile" = kafka3 ] || profile=kafka4
	say "fetching Apache Kafka $ver (broker and tools jars) from Maven Central into $dir"
	mkdir -p "$CACHE/kafka"
	tmp=$(mktemp -d "$CACHE/kafka/.fetch-$ver.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	mvn -B -q -f "$ROOT/scripts/kafka/pom.xml" -P "$profile" -Dkafka.version="$ver" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
		>"$tmp/mvn.log" 2>&1 || { tail -n 30 "$tmp/mvn.log" >&2; die "Maven could not fetch Kafka $ver"; }
	[ -f "$tmp/libs/kafka_2.13-$ver.jar" ] || die "Maven fetched no kafka_2.13-$ver.jar"
	rm -f "$tmp/mvn.log"
	write_logging "$tmp" "$ver"
	write_launchers "$tmp" "$ver"
	echo "$ver" >"$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	say "Kafka $ver ready in $dir ($(find "$dir/libs" -name '*.jar' | wc -l) jars)"
}

# archive OUTDIR VERSION: kafka_2.13-VERSION.tgz with a top folder of that
# name, as Apache releases it, and its sha512 in the release's format.
archive() {
	local out=$1 ver=$2 name=kafka_2.13-$2
	fetch "$ver"
	mkdir -p "$out"
	tar -C "$CACHE/kafka" --transform "s,^$ver,$name," --exclude "$ver/.complete" \
		-czf "$out/$name.tgz" "$ver"
	(cd "$out" && sha512sum "$name.tgz" >"$name.tgz.sha512")
	echo "$out/$name.tgz"
}

case ${1:-} in
home)
	v=${2:-$KAFKA_VERSION}
	fetch "$v"
	echo "$CACHE/kafka/$v"
	;;
version) echo "$KAFKA_VERSION" ;;
legacy-version) echo "$KAFKA_LEGACY_VERSION" ;;
archive)
	[ $# -ge 2 ] || die "usage: $0 archive DIR [VERSION]"
	archive "$2" "${3:-$KAFKA_VERSION}"
	;;
*)
	echo "usage: $0 {home [VERSION]|version|legacy-version|archive DIR [VERSION]}" >&2
	exit 2
	;;
esac
