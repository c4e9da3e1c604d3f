import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Test helper: saves a model with its optimizer, carries the artifacts through JSON (as a file
 * or localStorage would), lets `edit` change them (as an attacker with the file could), and
 * loads the model back.
 */
export async function saveAndLoad(
  m: tfl.LayersModel,
  edit: (a: tf.io.ModelArtifacts) => void = () => {},
): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  const json = JSON.parse(JSON.stringify({ ...saved, weightData: undefined })) as tf.io.ModelArtifacts;
  const artifacts = { ...json, weightData: saved!.weightData! };
  edit(artifacts);
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}
