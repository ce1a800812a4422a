'use strict';
// Stands in for @metcoder95/https-pem, whose certificate is made by an install script: the runner
// makes one with openssl and passes its files in the environment.
const { readFileSync } = require('node:fs');

exports.key = readFileSync(process.env.BW_CONFORMANCE_KEY);
exports.cert = readFileSync(process.env.BW_CONFORMANCE_CERT);
exports.default = exports;
exports.generate = async () => ({ key: exports.key, cert: exports.cert });
