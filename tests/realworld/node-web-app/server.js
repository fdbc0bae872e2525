const isNumber = require("is-number");
console.log("Running on http://0.0.0.0:8080", isNumber(8080));
