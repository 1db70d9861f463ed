"""TaskiqConfig, broker URLs and building brokers from settings."""

import pytest
from taskiq import InMemoryBroker
from taskiq.result_backends.dummy import DummyResultBackend
from taskiq.serializers import JSONSerializer
from taskiq_aio_pika import AioPikaBroker, QueueType
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from spakky.dispatch.core import InvalidSettingsError
from spakky.dispatch.taskiq import (
    RabbitQueueBroker,
    RedisListQueueBroker,
    RedisStreamQueueBroker,
    build_broker,
    describe_broker,
    masked_url,
)

from .conftest import ConfigFactory
from .taskiq_fakes import RecordingBroker


def test_config_defaults_expect_documented_values(make_config: ConfigFactory) -> None:
    """Nothing set: no broker URL yet, no results, queue and exchange "taskiq"."""
    config = make_config()
    assert config.broker_url is None
    assert config.result_backend is None
    assert (config.queue, config.exchange, config.timezone) == (
        "taskiq",
        "taskiq",
        "UTC",
    )
    assert config.result_ttl == 86400
    assert config.connect_timeout == 5.0
    assert (config.redis_broker, config.rabbitmq_queue_type) == ("stream", "quorum")
    assert (config.redelivery_timeout, config.max_deliveries) == (60.0, 5)


def test_config_from_environment_expect_values_read(make_config: ConfigFactory) -> None:
    """Every field is read from SPAKKY_TASKIQ__<FIELD>."""
    config = make_config(
        broker_url="amqp://guest:guest@localhost:5672//",
        result_backend="redis://localhost:6379/1",
        queue="mail",
        timezone="Asia/Seoul",
        result_ttl="60",
        connect_timeout="1.5",
    )
    assert config.broker_url == "amqp://guest:guest@localhost:5672//"
    assert config.result_backend == "redis://localhost:6379/1"
    assert (config.queue, config.timezone, config.result_ttl) == (
        "mail",
        "Asia/Seoul",
        60,
    )
    assert config.connect_timeout == 1.5


def test_config_unknown_broker_scheme_expect_suggestion(
    make_config: ConfigFactory,
) -> None:
    """A typo in the scheme names the variable and suggests the nearest scheme."""
    with pytest.raises(InvalidSettingsError) as caught:
        make_config(broker_url="reddis://localhost:6379/0")
    message = str(caught.value)
    assert "SPAKKY_TASKIQ__BROKER_URL" in message
    assert "did you mean 'redis'?" in message


def test_config_invalid_values_expect_each_variable_named(
    make_config: ConfigFactory,
) -> None:
    """Several bad values are reported together, each by its variable."""
    with pytest.raises(InvalidSettingsError) as caught:
        make_config(
            broker_url="localhost",
            result_backend="amqp://localhost//",
            timezone="Mars/Olympus",
            result_ttl="0",
        )
    message = str(caught.value)
    assert "SPAKKY_TASKIQ__BROKER_URL: the value is not a URL" in message
    assert (
        "SPAKKY_TASKIQ__RESULT_BACKEND: unknown result backend scheme 'amqp'" in message
    )
    assert "SPAKKY_TASKIQ__TIMEZONE: unknown timezone 'Mars/Olympus'" in message
    assert "SPAKKY_TASKIQ__RESULT_TTL" in message


def test_config_far_scheme_expect_no_suggestion(make_config: ConfigFactory) -> None:
    """A scheme unlike any known one lists the known schemes only."""
    with pytest.raises(InvalidSettingsError) as caught:
        make_config(broker_url="kafka://localhost:9092")
    assert "did you mean" not in str(caught.value)
    assert "amqp, amqps, memory, redis, rediss" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:secret@host:5672//", "amqp://guest:**@host:5672//"),
        ("redis://:secret@host/0", "redis://:**@host/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        (None, "<not set>"),
        ("redis://host:bad/0", "redis://host:bad/0"),
        ("redis://[::1/0", "<unparsable URL>"),
    ],
)
def test_masked_url_expect_password_hidden(url: str | None, expected: str) -> None:
    """Passwords never appear in a masked URL."""
    assert masked_url(url) == expected


def test_build_broker_redis_expect_stream_queue_on_configured_queue(
    make_config: ConfigFactory,
) -> None:
    """redis:// gives the acknowledged stream broker on SPAKKY_TASKIQ__QUEUE.

    One consumer group reading from the start of the stream (so messages sent
    before the first worker are not skipped), up to 100 entries per read
    (``STREAM_READ_COUNT``), the redelivery timeout and delivery limit from the
    settings, dead letters beside the queue, no result backend.
    """
    broker = build_broker(
        make_config(broker_url="redis://127.0.0.1:6379/3", queue="mail")
    )
    assert isinstance(broker, RedisStreamQueueBroker)
    assert broker.queue_name == "mail"
    assert (broker.consumer_group_name, broker.consumer_id) == ("spakky-taskiq", "0")
    assert (broker.count, broker.block) == (100, 1000)
    fewer = build_broker(
        make_config(broker_url="redis://127.0.0.1:6379/3", stream_read_count="7")
    )
    assert fewer.count == 7  # type: ignore[attr-defined]
    assert (broker.redelivery_timeout, broker.idle_timeout) == (60.0, 60000)
    assert broker.max_deliveries == 5
    assert broker.dead_letters == "mail.dead_letter"
    assert broker.maxlen is None  # trimming would drop unacknowledged entries
    assert broker.connection_pool.connection_kwargs["socket_connect_timeout"] == 5.0
    assert isinstance(broker.result_backend, DummyResultBackend)
    assert describe_broker(broker) == "redis://127.0.0.1:6379/3"


def test_build_broker_redis_list_setting_expect_list_queue(
    make_config: ConfigFactory,
) -> None:
    """REDIS_BROKER=list gives the list broker (at most once), with dead letters."""
    broker = build_broker(
        make_config(
            broker_url="redis://127.0.0.1:6379/3",
            queue="mail",
            redis_broker="list",
            redelivery_timeout="2",
        )
    )
    assert isinstance(broker, RedisListQueueBroker)
    assert isinstance(broker, ListQueueBroker)
    assert broker.queue_name == "mail"
    assert broker.dead_letters == "mail.dead_letter"
    assert describe_broker(broker) == "redis://127.0.0.1:6379/3"


def test_build_broker_short_redelivery_timeout_expect_short_reads(
    make_config: ConfigFactory,
) -> None:
    """A redelivery timeout under 4 s shortens each stream read to a quarter of it."""
    broker = build_broker(
        make_config(
            broker_url="redis://127.0.0.1:6379/3",
            redelivery_timeout="2",
            max_deliveries="2",
        )
    )
    assert isinstance(broker, RedisStreamQueueBroker)
    assert (broker.block, broker.idle_timeout, broker.max_deliveries) == (500, 2000, 2)


def test_build_broker_amqp_expect_quorum_queue_bound_to_exchange(
    make_config: ConfigFactory,
) -> None:
    """amqp:// gives a durable quorum queue on the exchange, dead letters beside it."""
    config = make_config(
        broker_url="amqp://guest:secret@127.0.0.1:5672//",
        queue="mail",
        exchange="spakky",
        result_backend="redis://127.0.0.1:6379/4",
        result_ttl="120",
        max_deliveries="3",
    )
    broker = build_broker(config)
    assert isinstance(broker, RabbitQueueBroker)
    assert isinstance(broker, AioPikaBroker)
    queues = broker._task_queues
    assert [(q.name, q.type, q.durable) for q in queues] == [
        ("mail", QueueType.QUORUM, True)
    ]
    dead = broker._dead_letter_queue
    assert (dead.name, dead.type, dead.durable) == (
        "mail.dead_letter",
        QueueType.CLASSIC,
        True,
    )
    assert (broker.dead_letters, broker.max_deliveries) == ("mail.dead_letter", 3)
    assert broker._exchange.name == "spakky"
    assert broker._conn_kwargs == {"timeout": 5.0}
    assert describe_broker(broker) == "amqp://guest:**@127.0.0.1:5672//"
    backend = broker.result_backend
    assert isinstance(backend, RedisAsyncResultBackend)
    assert backend.result_ex_time == 120
    assert isinstance(backend.serializer, JSONSerializer)


def test_build_broker_amqp_classic_setting_expect_classic_queue(
    make_config: ConfigFactory,
) -> None:
    """RABBITMQ_QUEUE_TYPE=classic keeps a classic queue (no delivery count)."""
    broker = build_broker(
        make_config(broker_url="amqp://localhost//", rabbitmq_queue_type="classic")
    )
    assert isinstance(broker, RabbitQueueBroker)
    assert [q.type for q in broker._task_queues] == [QueueType.CLASSIC]


def test_config_delivery_settings_invalid_expect_each_variable_named(
    make_config: ConfigFactory,
) -> None:
    """Unknown broker kinds and non-positive limits are refused by variable."""
    with pytest.raises(InvalidSettingsError) as caught:
        make_config(
            redis_broker="pubsub",
            redelivery_timeout="0",
            max_deliveries="0",
            rabbitmq_queue_type="stream",
        )
    message = str(caught.value)
    for variable in (
        "REDIS_BROKER",
        "REDELIVERY_TIMEOUT",
        "MAX_DELIVERIES",
        "RABBITMQ_QUEUE_TYPE",
    ):
        assert f"SPAKKY_TASKIQ__{variable}" in message


def test_build_broker_memory_expect_in_process_broker(
    make_config: ConfigFactory,
) -> None:
    """memory:// gives taskiq's InMemoryBroker, which runs tasks in this process."""
    broker = build_broker(make_config(broker_url="memory://"))
    assert isinstance(broker, InMemoryBroker)
    assert describe_broker(broker) == "InMemoryBroker"


def test_build_broker_without_url_expect_clear_error(
    make_config: ConfigFactory,
) -> None:
    """No broker URL: the error names the variable and the alternative."""
    with pytest.raises(InvalidSettingsError, match="SPAKKY_TASKIQ__BROKER_URL"):
        build_broker(make_config())


def test_describe_broker_unknown_kind_expect_class_name() -> None:
    """A broker with neither a URL nor a Redis pool is named by its class."""
    assert describe_broker(RecordingBroker()) == "RecordingBroker"


def test_config_errors_and_repr_expect_no_secret(make_config: ConfigFactory) -> None:
    """Invalid settings name the variable, never the value; the settings' repr
    leaves the URLs (and their passwords) out."""
    secret = "s3cr3t-pw-never-printed"
    with pytest.raises(InvalidSettingsError) as caught:
        make_config(
            broker_url=f"guest:{secret}@localhost:5672",
            result_backend=f"nosuch://:{secret}@h/0",
            result_ttl=secret,
            connect_timeout=secret,
        )
    text = f"{caught.value}{caught.value!r}"
    assert secret not in text
    assert "input_value" not in text
    for name in ("BROKER_URL", "RESULT_BACKEND", "RESULT_TTL", "CONNECT_TIMEOUT"):
        assert f"SPAKKY_TASKIQ__{name}" in text
    config = make_config(
        broker_url=f"amqp://guest:{secret}@localhost:5672//",
        result_backend=f"redis://:{secret}@localhost:6379/1",
        result_ttl="60",
        connect_timeout="1",
    )
    assert secret not in repr(config)
    assert secret not in str(config)
