// Size budget entry (.size-limit.json): what a bare `import 'gradclip/tfjs'` keeps in a bundle.
// It must not be empty: the import registers the optimizer class for loading saved models.
import '../dist/tfjs/index.js';
