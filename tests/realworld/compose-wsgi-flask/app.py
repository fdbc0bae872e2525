from flask import Flask, jsonify, request
from flask.wrappers import Response

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "Hello World!"


@app.route("/info")
def info() -> Response:
    return jsonify({"host": request.headers.get("Host", "")})


@app.route("/flask-health-check")
def flask_health_check() -> str:
    return "success"
