# Sourced by ops/dev/test and .ci/run: makes sure the local services the tests
# use are up, starting any that are down. Idempotent.

steward_wait_for_port() { # host port seconds
    local deadline=$((SECONDS + $3))
    until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "ops/dev: nothing answers on $1:$2 after $3 s" >&2
            return 1
        fi
        sleep 0.5
    done
}

steward_ensure_services() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        echo "ops/dev: starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    fi
    steward_wait_for_port 127.0.0.1 5432 60

    if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
        echo "ops/dev: starting NATS with JetStream"
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    fi
    steward_wait_for_port 127.0.0.1 4222 30

    if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        echo "ops/dev: starting Mosquitto"
        mosquitto -d -c /etc/mosquitto/mosquitto.conf
    fi
    steward_wait_for_port 127.0.0.1 1883 30

    # The relay tests start private NATS servers from this binary.
    if ! [ -x /usr/sbin/nats-server ]; then
        echo "ops/dev: installing nats-server"
        apt-get install -y -qq nats-server >/dev/null
    fi
    # `serve`'s MQTT test watches the broker with mosquitto_sub.
    if ! command -v mosquitto_sub >/dev/null; then
        echo "ops/dev: installing mosquitto-clients"
        apt-get install -y -qq mosquitto-clients >/dev/null
    fi
}
