var isNumber = require("is-number");
console.log("result", isNumber(process.env.PORT));
