// Vietnamese dates are written day/month/year (07/12/2026).
const dateFormat = 'DD/MM/YYYY';
const timeFormat = 'HH:mm:ss';
const dateTimeFormat = `${dateFormat} ${timeFormat}`;
const locale = require('vue2-datepicker/locale/vi');
export default {dateFormat, timeFormat, dateTimeFormat, locale};
