import I18N from '@radiantearth/stac-fields/I18N';

// Numbers and dates the Vietnamese way: 1.500.000,5 and 07/12/2026 (times in UTC).
export default function run(/*locale*/) {
  const defaults = I18N.getDefaults();
  I18N.numberFormatter = new Intl.NumberFormat("vi-VN", defaults.numberFormatterOptions);
  I18N.dateFormatter = new Intl.DateTimeFormat("vi-VN", Object.assign({}, defaults.dateFormatterOptions, {
    day: '2-digit', month: '2-digit', year: 'numeric'
  }));
  I18N.dateTimeFormatter = new Intl.DateTimeFormat("vi-VN", {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone: "UTC",
    timeZoneName: "short"
  });
}
