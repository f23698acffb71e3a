"""The book's counter: every visit increments a key in redis, so the count outlives this container."""

import os

from flask import Flask
from redis import Redis

app = Flask(__name__)
redis = Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379, socket_connect_timeout=2)


@app.route("/")
def hello() -> str:
    count = redis.incr("hits")
    return f"Hello! I have been seen {count} times.\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
