const isNumber = require("is-number");
console.log(isNumber(3));
