import { Registry } from '@radiantearth/stac-fields';

// The archive's own fields (rsarchive:*), given labels instead of their raw keys.  Labels are written in
// English here and translated like every other label (vi/fields.json); a label must not contain a dot
// (vue-i18n would read it as a path).  Copied over the package's fields.config.js by
// scripts/build-stac-browser.sh.

Registry.addExtension('rsarchive', 'Archive');
Registry.addMetadataFields({
  'rsarchive:form': {label: 'Data form'},
  'rsarchive:acquisition_route': {label: 'Acquisition route'},
  'rsarchive:acquisition_article': {label: 'Acquisition clause (Decision 81/2010)'},
  'rsarchive:station': {label: 'Receiving station'},
  'rsarchive:scene_id': {label: 'Scene ID'},
  'rsarchive:datastrip_id': {label: 'Datastrip'},
  'rsarchive:cpf_version': {label: 'Calibration file version'},
  'rsarchive:level0_quality': {label: 'Level-0 quality'},
  'rsarchive:geometric_accuracy': {label: 'Geometric accuracy'},
  'rsarchive:accuracy': {label: 'Accuracy'},
  'rsarchive:security_classification': {label: 'Security classification'},
  'rsarchive:cloud_class': {label: 'Cloud class'},
  'rsarchive:refinement': {label: 'Geometric refinement'},
  'rsarchive:degraded': {label: 'Degraded'},
  'rsarchive:partial': {label: 'Partial scene'},
  'rsarchive:provider': {label: 'Foreign provider'},
  'rsarchive:received': {label: 'Received'},
  'rsarchive:files': {label: 'Files'}
});
