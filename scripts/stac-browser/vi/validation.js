// ajv-i18n has no Vietnamese messages: schema errors are reported in English.
export default require('ajv-i18n/localize/en');
