import { type ParityKinds } from '@stablesr/core';
import { parityKinds as irsdeKinds } from '@stablesr/irsde';
import { parityKinds as stablesrKinds } from '@stablesr/stablesr';
import { parityKinds as trainKinds } from '@stablesr/train';
import { parityKinds as unetKinds } from '@stablesr/unet';
import { parityKinds as vaeKinds } from '@stablesr/vae';

/** Every fixture kind the library implements, from all packages. */
export const allParityKinds: ParityKinds = { ...vaeKinds, ...unetKinds, ...stablesrKinds, ...irsdeKinds, ...trainKinds };
